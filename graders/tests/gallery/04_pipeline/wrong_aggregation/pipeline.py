"""Gallery entry, appended to solutions/04_pipeline/pipeline.py: The standard deviation taken with numpy's default (ddof=0, the population's) instead of pandas' sample one."""


def process_archive(data):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        with archive.open(archive.namelist()[0]) as csv_file:
            frame = pd.read_csv(csv_file, skiprows=1)
    frame = frame[frame["I"] == "D"]
    return frame.groupby("SETTLEMENTDATE")["SCADAVALUE"].agg(mean="mean", std=lambda mw: mw.to_numpy().std())
