"""Home: the environment checked live (`env.py`), the "run a model" check (`run_model.py`) and the lifecycle at a
glance (`overview.py`). `python -m workbench env` prints what the Home tab shows (`stage.py`)."""
