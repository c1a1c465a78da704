var cs = "Host=pg01;Username=reporting;Password=XJ^urdKgpT-sR10_c!X!;Database=warehouse";
await using var conn = new NpgsqlConnection(cs);
