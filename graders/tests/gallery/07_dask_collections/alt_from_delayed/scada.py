"""Gallery entry, appended to solutions/07_dask_collections/scada.py: a correct alternative, one delayed read_month per file."""

import dask


def read_scada(folder):
    meta = pd.DataFrame({
        "I": pd.Series(dtype="str"), "SETTLEMENTDATE": pd.Series(dtype="str"),
        "DUID": pd.Series(dtype="str"), "SCADAVALUE": pd.Series(dtype="float64"),
    })
    return dd.from_delayed([dask.delayed(read_month)(path) for path in monthly_files(folder)], meta=meta)
