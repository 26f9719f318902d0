# The peer server for bench/runtime: KServe's Python model server with an onnxruntime session,
# speaking the same Open Inference Protocol v2 JSON on /v2/models/{name}/infer.
import argparse
import logging
import uuid

import kserve
import numpy as np
import onnxruntime as ort
from kserve import InferOutput, InferRequest, InferResponse


class OnnxModel(kserve.Model):
    def __init__(self, name: str, path: str):
        super().__init__(name)
        self.path = path
        self.session = None

    def load(self) -> bool:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(self.path, opts, providers=["CPUExecutionProvider"])
        self.ready = True
        return self.ready

    def predict(self, payload: InferRequest, headers=None, response_headers=None) -> InferResponse:
        feeds = {i.name: i.as_numpy() for i in payload.inputs}
        names = [o.name for o in self.session.get_outputs()]
        results = self.session.run(names, feeds)
        outputs = [InferOutput(name=n, shape=list(r.shape), datatype="FP32", data=r.flatten().tolist()) for n, r in zip(names, results)]
        return InferResponse(model_name=self.name, infer_outputs=outputs, response_id=payload.id or str(uuid.uuid4()))


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--model_name", default="mlp")
    p.add_argument("--model_path", required=True)
    p.add_argument("--port", type=int, required=True)
    a = p.parse_args()
    model = OnnxModel(a.model_name, a.model_path)
    model.load()
    server = kserve.ModelServer(http_port=a.port, workers=1, enable_grpc=False, enable_latency_logging=False)
    # Per-request trace lines would cost the peer CPU that modelship (which logs no per-request lines) does not pay.
    logging.getLogger("kserve.trace").setLevel(logging.WARNING)
    server.start([model])
