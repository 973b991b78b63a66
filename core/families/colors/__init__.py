"""The colour classifier family: RGB -> 32 sigmoid units -> 9 colour families, on crowd colour labels."""
