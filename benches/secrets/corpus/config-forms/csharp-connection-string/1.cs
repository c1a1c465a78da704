var cs = "Host=pg01;Username=reporting;Password=fEPxLF4c~fI4z6O1cD%TD*VU;Database=warehouse";
await using var conn = new NpgsqlConnection(cs);
