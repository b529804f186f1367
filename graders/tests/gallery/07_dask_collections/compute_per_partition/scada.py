"""Gallery entry, appended to solutions/07_dask_collections/scada.py: one compute per partition, in a loop."""


def summarise(folder):
    frame = read_scada(folder)
    rows = []
    for index in range(frame.npartitions):
        rows.append(frame.partitions[index].compute())
    return pd.concat(rows).groupby("SETTLEMENTDATE")["SCADAVALUE"].agg(["mean", "std"])
