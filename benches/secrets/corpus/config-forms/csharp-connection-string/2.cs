var cs = "Host=pg01;Username=reporting;Password=*TD_VUxXJ-urdK;Database=warehouse";
await using var conn = new NpgsqlConnection(cs);
