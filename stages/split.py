"""The one train/evaluation split both stages use (deterministic)."""

from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split


def split():
    data = load_iris()
    index = list(range(len(data.target)))
    train, test = train_test_split(index, test_size=0.3, random_state=0, stratify=data.target)
    return data, sorted(train), sorted(test)
