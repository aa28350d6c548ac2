"""A scorer of our own: the Brier score of the predicted class (lower is better)."""


def brier(case, prediction):
    hit = 1.0 if prediction["label"] == case["label"] else 0.0
    return (prediction["confidence"] - hit) ** 2
