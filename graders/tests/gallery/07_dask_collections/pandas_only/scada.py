"""Gallery entry, appended to solutions/07_dask_collections/scada.py: pandas only, no Dask at all."""


def read_scada(folder):
    return pd.concat([read_month(path) for path in monthly_files(folder)])


def summarise(folder):
    return summarise_with_pandas(folder)
