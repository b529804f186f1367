"""Gallery entry, appended to solutions/07_dask_collections/scada.py: compute the rows, then group them with pandas."""


def summarise(folder):
    rows = read_scada(folder).compute()
    return rows.groupby("SETTLEMENTDATE")["SCADAVALUE"].agg(["mean", "std"])
