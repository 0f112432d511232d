# %% [markdown]
# # Enrich a prospect list from Python
#
# Notebook-style script (`# %%` cells: open it in Jupyter via jupytext, or in VS Code, or
# run it with `python examples/notebook_enrich.py`).
#
# Setup:
#
#     pip install ./outreach-py pandas tqdm
#
# Keys come from the environment (`SERPER_API_KEY`, `GROQ_API_KEY`, optional
# `LLM_BASE_URL`, `LLM_MODEL`) or from `outreach.Pipeline(...)` arguments. Without keys
# every row gets the documented fallback texts. To try it offline, start the fake
# providers and paste the two `export` lines they print:
#
#     cargo run -p outreach-fake-providers -- 50 200

# %%
from pathlib import Path

import outreach

here = Path(__file__).resolve().parent if "__file__" in globals() else Path("examples")
source = here / "prospects.csv"

# Columns, row count and the email column the pipeline will use.
outreach.read_headers(source)

# %%
pipeline = outreach.Pipeline(concurrency=32)
print(pipeline)

# %% [markdown]
# Enrich the whole file. The result is a DataFrame (text cells) in the file's row order,
# with `sif_research` (research JSON) and `sif_personalized` (the opener) appended; `out`
# also writes it as XLSX. A tqdm bar shows progress; Ctrl-C (or the stop button) cancels.
# In a notebook you can also `df = await pipeline.enrich_async(source)`.

# %%
df = pipeline.enrich(source, out=here / "prospects.enriched.xlsx")
summary = pipeline.last_summary
assert summary is not None
print(
    f"{summary.rows} rows, {summary.enriched} openers, {summary.fallbacks} fallbacks "
    f"({summary.invalid_emails} invalid emails) "
    f"in {summary.seconds:.1f}s ({summary.rows_per_second:.0f} rows/s)"
)

# %%
try:
    import pandas as pd

    pd.set_option("display.max_colwidth", 90)
    pd.set_option("display.width", 200)
except ImportError:  # without pandas the result is a list of dicts
    pass
table = df[["first_name", "company", "sif_personalized"]] if hasattr(df, "loc") else df
print(table.head(10).to_string() if hasattr(table, "to_string") else table[:10])

# %% [markdown]
# One-off use: research a single address, then write openers for different offers.

# %%
research = pipeline.research("jane.doe@northwind-logistics.com")
print(research)
offer = outreach.ServiceContext(
    core_offer="route optimisation for regional carriers",
    key_differentiator="plans that adapt to live traffic and dock schedules",
    cta="a 20-minute walkthrough",
)
print(pipeline.personalize(research, offer))
