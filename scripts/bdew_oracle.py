"""demandlib's BDEW household profiles for given years, as JSON (the oracle of
Tests/MeterSimulatorTests/LoadProfileTests.swift; by hand: docs/load-profiles.md).

stdin: {"years": [2025, ...]}; stdout: {"versions": {...}, "h25": {"2025": [kW per
quarter hour, 1 GWh/a scale]}, "h0_dyn": {"2025": [fraction of the year per quarter hour]}}.
Needs demandlib (PyPI, 0.2.2) and pandas.
"""
import json
import sys
import warnings

# demandlib's ElecSlp calls warnings.simplefilter("error"), which turns pandas' own
# deprecation warnings (pandas >= 3.1: `inplace`) into exceptions; keep warnings warnings.
warnings.simplefilter = lambda *args, **kwargs: None
warnings.filterwarnings("ignore")

import demandlib  # noqa: E402
import pandas as pd  # noqa: E402
from demandlib import bdew  # noqa: E402

request = json.load(sys.stdin)
out = {"versions": {"demandlib": demandlib.__version__, "pandas": pd.__version__}, "h25": {}, "h0_dyn": {}}
for year in request["years"]:
    days = 366 if pd.Timestamp(year=year, month=1, day=1).is_leap_year else 365
    index = pd.date_range(f"{year}-01-01", periods=days * 96, freq="15min")
    out["h25"][str(year)] = [float(v) for v in bdew.H25(index)]
    out["h0_dyn"][str(year)] = [float(v) for v in bdew.ElecSlp(year=year).get_profiles("h0_dyn")["h0_dyn"]]
json.dump(out, sys.stdout)
