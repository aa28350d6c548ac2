"""The python provider: loads the trained model once, predicts a batch of cases."""

import pickle


class Classifier:
    def __init__(self, model: str = "stages/iris/model.pkl"):
        with open(model, "rb") as fh:
            self.model = pickle.load(fh)

    def predict(self, cases):
        probabilities = self.model.predict_proba([case["features"] for case in cases])
        out = []
        for p in probabilities:
            best = int(p.argmax())
            out.append({"label": str(self.model.classes_[best]), "confidence": round(float(p[best]), 6)})
        return out
