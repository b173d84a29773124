"""`make compat`: the (Airflow, Python) compatibility matrix (a development harness, not in the wheel)."""
