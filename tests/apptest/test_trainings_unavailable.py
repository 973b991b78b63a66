"""AppTest: with MLX_REDIS_URL pointing at a Redis that is down, the Retrain page still draws and Start says in plain
words that trainings are unavailable right now; the Colors page still predicts."""

import socket

from tests.helpers.apptest import app_test, top_family

SUBMIT = "FormSubmitter:retrain.form.colors-Start training"


def dead_redis_url() -> str:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        return f"redis://127.0.0.1:{s.getsockname()[1]}/0"


def test_start_says_trainings_are_unavailable_and_predictions_still_work(monkeypatch):
    monkeypatch.setenv("MLX_REDIS_URL", dead_redis_url())
    at = app_test("pages/4_Retrain.py").run()
    assert not at.exception
    at.number_input(key="retrain.colors.epochs").set_value(1)
    at.button(key=SUBMIT).click().run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "Trainings are unavailable right now" in errors and "Traceback" not in errors
    colors = app_test("pages/1_Colors.py").run()
    assert not colors.exception and top_family(colors) == "green-ish"  # the server's answer for the default colour
