"""Export runs to TFLite, ONNX, TF SavedModel and Hugging Face folders, with proof of parity.

One file per format (to_tflite, to_onnx, to_savedmodel, to_hf), each with convert / load / refusal;
engine.py drives them over the nets a family names (lightning_modules.base.Exportable)."""
