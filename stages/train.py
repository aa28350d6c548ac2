"""DVC stage `train`: a logistic regression on the training split, pickled (params.yaml `train:`)."""

import pickle
import sys

import yaml
from sklearn.linear_model import LogisticRegression

from stages.split import split

if __name__ == "__main__":
    params = yaml.safe_load(open("params.yaml", encoding="utf-8"))["train"]
    data, train, _ = split()
    model = LogisticRegression(C=float(params["C"]), max_iter=int(params["max_iter"]))
    model.fit(data.data[train], [str(data.target_names[t]) for t in data.target[train]])
    with open(sys.argv[1], "wb") as fh:
        pickle.dump(model, fh)
    print(f"trained C={params['C']}: training accuracy {model.score(data.data[train], data.target_names[data.target[train]]):.3f}")
