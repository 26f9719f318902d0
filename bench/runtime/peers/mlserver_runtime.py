# A peer server for bench/runtime: an MLServer custom runtime that serves one .onnx file with an
# onnxruntime session (CPU, 1 intra-op and 1 inter-op thread) over the Open Inference Protocol v2.
# model-settings.json: {"name": ..., "implementation": "mlserver_runtime.OnnxRuntime",
#                       "parameters": {"uri": "/abs/path/model.onnx"}}
# Every request input is decoded by name into a numpy array of its datatype and shape; every model
# output is returned by name with its own datatype and its exact shape.
import numpy as np
import onnxruntime as ort
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.codecs.numpy import to_datatype
from mlserver.errors import MLServerError
from mlserver.types import InferenceRequest, InferenceResponse, ResponseOutput
from mlserver.utils import get_model_uri


class OnnxRuntime(MLModel):
    async def load(self) -> bool:
        path = await get_model_uri(self._settings)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        self._session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        self._input_names = {i.name for i in self._session.get_inputs()}
        self._output_names = [o.name for o in self._session.get_outputs()]
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        feeds = {}
        for inp in payload.inputs:
            if inp.name not in self._input_names:
                raise MLServerError(f"unknown input {inp.name!r}", status_code=400)
            feeds[inp.name] = NumpyCodec.decode_input(inp)
        results = self._session.run(self._output_names, feeds)
        outputs = []
        for name, arr in zip(self._output_names, results):
            arr = np.asarray(arr)
            # Not NumpyCodec.encode_output: it reports a rank-0/1 output as [N, 1] (inject_batch_dimension).
            outputs.append(
                ResponseOutput(
                    name=name,
                    datatype=to_datatype(arr.dtype),
                    shape=list(arr.shape),
                    data=arr.flatten().tolist(),
                )
            )
        return InferenceResponse(model_name=self.name, id=payload.id, outputs=outputs)
