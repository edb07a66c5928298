# dags/opskit_reports.py: the DAG that /srv/opskit/opskit.toml's [airflow] table describes.
from opskit.airflow import build_dag

dag = build_dag("/srv/opskit/opskit.toml")
