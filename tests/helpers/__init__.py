"""What the test modules share: plain helper modules and the files they need. No tests live here, and no test module
imports another test module (or a conftest.py): what two of them need goes here."""
