app = Flask(__name__)
app.config['SECRET_KEY'] = '00a40f75237e9eafabdb75a507dc86707b307d57ca05d21a2df103e51b06b58c'
