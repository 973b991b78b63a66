// Loads a model folder (model.json + shards) in @tensorflow/tfjs with a small file IOHandler (tfjs-node is not
// needed), runs the inputs given as JSON, and prints the outputs as JSON. Used by tests/test_tfjs_export.py.
//   node tests/tfjs_check.js MODEL_DIR INPUTS.json   where INPUTS.json = {"shape": [...], "dtype": "float32", "data": [...]}
"use strict";
const fs = require("fs");
const path = require("path");
const tf = require("@tensorflow/tfjs");

// A file:// IOHandler: reads model.json and concatenates the shards in manifest order, as tf.io.browserFiles does.
function folderHandler(dir) {
  return {
    load: async () => {
      const modelJson = JSON.parse(fs.readFileSync(path.join(dir, "model.json"), "utf8"));
      const specs = [];
      const buffers = [];
      for (const group of modelJson.weightsManifest) {
        specs.push(...group.weights);
        for (const p of group.paths) {
          if (p.includes("/") || p.includes("\\") || p === "..") throw new Error(`unsafe weights path ${p}`);
          buffers.push(fs.readFileSync(path.join(dir, p)));
        }
      }
      const all = Buffer.concat(buffers);
      return {
        modelTopology: modelJson.modelTopology,
        weightSpecs: specs,
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
        format: modelJson.format,
        generatedBy: modelJson.generatedBy,
        convertedBy: modelJson.convertedBy,
      };
    },
  };
}

async function main() {
  const [dir, inputsPath] = process.argv.slice(2);
  await tf.setBackend("cpu");
  const model = await tf.loadLayersModel(folderHandler(dir));
  const spec = JSON.parse(fs.readFileSync(inputsPath, "utf8"));
  const x = tf.tensor(spec.data, spec.shape, spec.dtype || "float32");
  const y = model.predict(x);
  const out = {
    layers: model.layers.map((l) => ({ name: l.name, class: l.getClassName() })),
    shape: y.shape,
    data: Array.from(await y.data()),
  };
  process.stdout.write(JSON.stringify(out));
}

main().catch((err) => {
  process.stderr.write(`tfjs_check: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
