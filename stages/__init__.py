"""This repository's own example project: a real (small, offline) classifier, evaluated with ledger.

prepare.py writes the evaluation set from the iris data that ships inside scikit-learn (nothing is
downloaded), train.py trains a logistic regression on the rest, iris/ holds the provider that
loads the trained model and a scorer of our own. dvc.yaml runs them; `make demo` shows the flow."""
