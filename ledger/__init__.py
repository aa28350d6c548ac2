"""ledger: a Git-native artifact ledger for ML/LLM evaluation, built on DVC."""

__version__ = "0.1.0"
