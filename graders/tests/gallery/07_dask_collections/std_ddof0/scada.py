"""Gallery entry, appended to solutions/07_dask_collections/scada.py: the population standard deviation (ddof=0)."""

import dask


def summarise(folder):
    groups = read_scada(folder).groupby("SETTLEMENTDATE")["SCADAVALUE"]
    mean, std = dask.compute(groups.mean(), groups.std(ddof=0))
    return pd.DataFrame({"mean": mean, "std": std}).sort_index()
