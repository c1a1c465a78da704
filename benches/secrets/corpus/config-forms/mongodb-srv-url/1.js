const uri = "mongodb+srv://grafana_ro:oCyvzsNIsWQ5xL@cluster0.kirjc.mongodb.net/?retryWrites=true&w=majority";
const client = new MongoClient(uri);
