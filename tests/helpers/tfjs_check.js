// Loads a model folder (model.json + shards) in @tensorflow/tfjs with a small file IOHandler (tfjs-node is not
// needed), runs the inputs given as JSON, and prints the outputs as JSON. Used by tests/helpers/tfjs.py.
//   node tests/helpers/tfjs_check.js MODEL_DIR INPUTS.json   where INPUTS.json = {"shape": [...], "dtype": "float32", "data": [...]}
//   node tests/helpers/tfjs_check.js --save-conv OUTDIR INPUTS.json   builds a small conv net in TF.js itself, saves it as
//     model.json + group1-shard1of1.bin (what a TF.js user would upload), and prints its outputs for the inputs.
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

// A folder writer for model.save(): the same two files tf.io.browserDownloads would produce.
function folderWriter(dir) {
  return tf.io.withSaveHandler(async (artifacts) => {
    fs.mkdirSync(dir, { recursive: true });
    const modelJson = {
      format: "layers-model",
      generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
      convertedBy: null,
      modelTopology: artifacts.modelTopology,
      weightsManifest: [{ paths: ["group1-shard1of1.bin"], weights: artifacts.weightSpecs }],
    };
    fs.writeFileSync(path.join(dir, "model.json"), JSON.stringify(modelJson));
    fs.writeFileSync(path.join(dir, "group1-shard1of1.bin"), Buffer.from(artifacts.weightData));
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
  });
}

async function buildAndSaveConv(dir) {
  const model = tf.sequential();
  model.add(tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 4, kernelSize: 3, activation: "relu", name: "conv_1" }));
  model.add(tf.layers.maxPooling2d({ poolSize: 2, name: "pool_1" }));
  model.add(tf.layers.flatten({ name: "flatten" }));
  model.add(tf.layers.dense({ units: 3, activation: "softmax", name: "dense_out" }));
  await model.save(folderWriter(dir));
  return model;
}

async function main() {
  const args = process.argv.slice(2);
  await tf.setBackend("cpu");
  const saving = args[0] === "--save-conv";
  const [dir, inputsPath] = saving ? args.slice(1) : args;
  const model = saving ? await buildAndSaveConv(dir) : await tf.loadLayersModel(folderHandler(dir));
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
