"""The workbook contract: the schema as data, reading untrusted .xlsx files, parsing and checks,
scenarios, the template, the generated docs. Everything downstream sees typed `Inputs`."""
