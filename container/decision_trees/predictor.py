"""The inference web app SageMaker talks to: GET /ping and POST /invocations (CSV in, CSV out)."""
import io
import os
import pickle
from pathlib import Path

import flask

from csv_data import DataError, parse_rows

MODEL_PATH = Path(os.environ.get("OPT_ML", "/opt/ml")) / "model" / "decision-tree-model.pkl"

app = flask.Flask(__name__)
_model = None


def model():
    """Load the model once per worker, on first use."""
    global _model
    if _model is None:
        with open(MODEL_PATH, "rb") as model_file:
            _model = pickle.load(model_file)
    return _model


def text_response(body, status=200):
    return flask.Response(response=body, status=status, mimetype="text/plain")


@app.route("/ping", methods=["GET"])
def ping():
    """Healthy when the model loads; SageMaker keeps the endpoint Creating until this says 200."""
    try:
        model()
    except Exception as error:  # noqa: BLE001 - any failure to load means unhealthy
        return text_response(f"model not loaded: {error}\n", 404)
    return text_response("\n")


@app.route("/invocations", methods=["POST"])
def invocations():
    """Predict one label per CSV row; rows hold the features only (no label column)."""
    if flask.request.mimetype != "text/csv":
        return text_response(f"This predictor only supports text/csv, got "
                             f"'{flask.request.content_type}'.\n", 415)
    try:
        text = flask.request.get_data().decode("utf-8")
    except UnicodeDecodeError:
        return text_response("The request body is not UTF-8 text.\n", 400)
    try:
        rows, _ = parse_rows(io.StringIO(text), "request", has_label=False)
    except DataError as error:
        return text_response(f"{error}\n", 400)
    if len(rows) == 0:
        return text_response("The request has no rows.\n", 400)
    expected = model().n_features_in_
    if rows.shape[1] != expected:
        return text_response(f"Each row needs {expected} features, got {rows.shape[1]}.\n", 400)
    predictions = model().predict(rows)
    return flask.Response("".join(f"{p}\n" for p in predictions), status=200, mimetype="text/csv")
