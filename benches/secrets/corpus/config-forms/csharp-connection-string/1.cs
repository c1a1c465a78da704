var cs = "Host=pg01;Username=reporting;Password=PxLF4cfI4z6O1c;Database=warehouse";
await using var conn = new NpgsqlConnection(cs);
