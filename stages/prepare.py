"""DVC stage `prepare`: the evaluation cases, one JSON object per line (case_id, features, label)."""

import json
import sys

from stages.split import split

if __name__ == "__main__":
    data, _, test = split()
    with open(sys.argv[1], "w", encoding="utf-8") as fh:
        for i in test:
            case = {"case_id": f"iris-{i:03d}", "features": [round(float(x), 2) for x in data.data[i]],
                    "label": str(data.target_names[data.target[i]])}
            fh.write(json.dumps(case, sort_keys=True) + "\n")
    print(f"wrote {len(test)} evaluation cases to {sys.argv[1]}")
