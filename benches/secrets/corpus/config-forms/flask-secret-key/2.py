app = Flask(__name__)
app.config['SECRET_KEY'] = 'woZvbyGTlMiMpwW8zBSggEyzU7BuYhxgJMcPZ5al3Dc'
