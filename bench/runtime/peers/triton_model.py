# A peer server for bench/runtime: the model.py template for Triton's Python backend, serving one .onnx
# file with an onnxruntime session (CPU, 1 intra-op and 1 inter-op thread).
# peers.ts copies this file to <repository>/<model>/1/model.py with one line in front of it:
#   SITE_PACKAGES = "<venv>/lib/pythonX.Y/site-packages"
# and passes the model path as the config.pbtxt parameter "onnx_path". Under dynamic batching
# (max_batch_size > 0) Triton hands execute() several requests at once; they are concatenated along
# the batch dimension, run as one onnxruntime call and split again, which is what makes the batching
# real for a Python-backend model.
import json
import sys

# The backend stub embeds its own interpreter; make the venv's packages importable whatever it chose.
_site = globals().get("SITE_PACKAGES")
if _site and _site not in sys.path:
    sys.path.insert(0, _site)

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import triton_python_backend_utils as pb_utils  # noqa: E402


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        path = config["parameters"]["onnx_path"]["string_value"]
        self.batching = int(config.get("max_batch_size", 0)) > 0
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        # Triton declares a rank-0 input as [1] (it has no scalars in a non-batching model).
        self.scalars = {i.name for i in self.session.get_inputs() if len(i.shape) == 0}
        self.output_names = [o.name for o in self.session.get_outputs()]

    def _feeds(self, request):
        feeds = {}
        for name in self.input_names:
            t = pb_utils.get_input_tensor_by_name(request, name)
            if t is not None:
                arr = t.as_numpy()
                feeds[name] = arr.reshape(()) if name in self.scalars else arr
        return feeds

    def _response(self, results):
        return pb_utils.InferenceResponse(
            output_tensors=[
                pb_utils.Tensor(n, np.ascontiguousarray(r.reshape(1) if r.ndim == 0 else r))
                for n, r in zip(self.output_names, results)
            ]
        )

    def execute(self, requests):
        if not self.batching or len(requests) == 1:
            return [self._run_one(r) for r in requests]
        try:
            feeds = [self._feeds(r) for r in requests]
            sizes = [len(next(iter(f.values()))) for f in feeds]
            merged = {n: np.concatenate([f[n] for f in feeds], axis=0) for n in feeds[0]}
            results = self.session.run(self.output_names, merged)
        except Exception:
            # One bad request must not fail the others: fall back to one run each.
            return [self._run_one(r) for r in requests]
        responses = []
        start = 0
        for size in sizes:
            responses.append(self._response([r[start : start + size] for r in results]))
            start += size
        return responses

    def _run_one(self, request):
        try:
            return self._response(self.session.run(self.output_names, self._feeds(request)))
        except Exception as err:  # an error response, not a dead stub
            return pb_utils.InferenceResponse(output_tensors=[], error=pb_utils.TritonError(str(err)))
