"""Text generation speed: our NumPy one-step sampler against the TensorFlow tutorial's OneStep approach.

Both run the shipped model's weights, one stream, temperature 1, in the same process. The baseline re-implements
the tutorial's design: a tf.function that maps characters to ids with a lookup table, calls a Keras model with
the carried states (return_state), scales the logits, masks the unknown-character id, draws with
tf.random.categorical and maps the id back to a character, called once per character from Python.
"""

from __future__ import annotations

import time

from core.families.text import generate as text_generate

N_CHARS = 1000  # per timed run: long enough that per-call overhead dominates, as it does in the app
SEED = "ROMEO:"


class TutorialOneStep:
    """The tutorial's OneStep generator, rebuilt on our model (LSTM state is (h, c) where the tutorial's GRU has one)."""

    def __init__(self, model, vocab, temperature: float = 1.0):
        import keras
        import tensorflow as tf

        self.temperature = temperature
        chars = list(vocab.chars)
        # id 0 is the lookup's out-of-vocabulary slot, as in StringLookup; the model's ids are shifted by one
        self.ids_from_chars = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(chars), tf.range(1, len(chars) + 1, dtype=tf.int64)), 0
        )
        self.chars_from_ids = tf.constant(["[UNK]", *chars])
        lstm = model.get_layer("lstm")
        stateful_lstm = keras.layers.LSTM.from_config({**lstm.get_config(), "return_state": True, "name": "lstm_s"})
        ids = keras.Input(shape=(None,), dtype="int32")
        h0 = keras.Input(shape=(lstm.units,))
        c0 = keras.Input(shape=(lstm.units,))
        x = model.get_layer("embedding")(ids)  # (B, T, E)
        seq, h, c = stateful_lstm(x, initial_state=[h0, c0])  # (B, T, U), (B, U), (B, U)
        logits = model.get_layer("dense_out")(seq)  # (B, T, V)
        stateful_lstm.set_weights(lstm.get_weights())
        self.model = keras.Model([ids, h0, c0], [logits, h, c])
        self.units = lstm.units
        self._step = tf.function(self._step_impl)

    def initial_states(self):
        import tensorflow as tf

        return [tf.zeros((1, self.units)), tf.zeros((1, self.units))]

    def generate_one_step(self, inputs, states):
        return self._step(inputs, states[0], states[1])

    def _step_impl(self, inputs, h, c):
        import tensorflow as tf

        input_chars = tf.strings.unicode_split(inputs, "UTF-8")  # ragged (B, T)
        input_ids = tf.ragged.map_flat_values(self.ids_from_chars.lookup, input_chars).to_tensor() - 1
        logits, h, c = self.model([tf.cast(input_ids, tf.int32), h, c])
        logits = logits[:, -1, :] / self.temperature  # (B, V)
        # the prediction mask: the [UNK] slot gets -inf, so it is never drawn
        logits = tf.concat([tf.fill([tf.shape(logits)[0], 1], -float("inf")), logits], axis=1)
        predicted_ids = tf.squeeze(tf.random.categorical(logits, num_samples=1), axis=-1)
        return tf.gather(self.chars_from_ids, predicted_ids), [h, c]

    def generate(self, seed: str, n: int) -> str:
        import tensorflow as tf

        states = self.initial_states()
        next_char = tf.constant([seed])
        out = []
        for _ in range(n):
            next_char, states = self.generate_one_step(next_char, states)
            out.append(next_char)
        return tf.strings.join(out)[0].numpy().decode("utf-8")


def run() -> dict:
    from core.families.text import model as T

    loaded, vocab = T.load_text_model()
    sampler = text_generate.CharSampler(loaded.model, vocab)
    baseline = TutorialOneStep(loaded.model, vocab)

    text_generate.generate_text(sampler, SEED, 50, random_seed=0)  # warm-up
    t0 = time.perf_counter()
    ours = text_generate.generate_text(sampler, SEED, N_CHARS, temperature=1.0, random_seed=0, max_chars=N_CHARS)
    ours_s = time.perf_counter() - t0

    baseline.generate(SEED, 20)  # warm-up: traces the tf.function for both input shapes
    t0 = time.perf_counter()
    theirs = baseline.generate(SEED, N_CHARS)
    theirs_s = time.perf_counter() - t0
    assert len(ours.texts[0]) == N_CHARS and len(theirs) == N_CHARS

    batch = 8
    t0 = time.perf_counter()
    text_generate.generate_text(sampler, SEED, N_CHARS, n_samples=batch, random_seed=0, max_chars=N_CHARS)
    batch_s = time.perf_counter() - t0
    return {
        "text_chars_per_s": round(N_CHARS / ours_s, 1),
        "text_tutorial_onestep_chars_per_s": round(N_CHARS / theirs_s, 1),
        "text_speedup_vs_tutorial": round(theirs_s / ours_s, 2),
        "text_chars_per_s_batch8_total": round(batch * N_CHARS / batch_s, 1),
    }
