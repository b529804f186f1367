"""Gallery entry, appended to solutions/07_dask_collections/scada.py: lazy, but every file read by one task, as one block."""

import dask


def _read_all(folder):
    return pd.concat([read_month(path) for path in monthly_files(folder)])


def read_scada(folder):
    meta = {"I": "str", "SETTLEMENTDATE": "str", "DUID": "str", "SCADAVALUE": "float64"}
    return dd.from_delayed([dask.delayed(_read_all)(folder)], meta=meta)
