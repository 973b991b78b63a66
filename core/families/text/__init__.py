"""The text family: a character-level LSTM trained on Shakespeare."""
