"""The shapes family: a small CNN on 28x28 Quick, Draw! drawings, with "none of these"."""
