"""How people run the tool: the pipeline functions, the Python API, the `sourcing` CLI, nightly
runs, logging, and the what-if session behind the Streamlit app."""
