import os

client = OpenAI(api_key=os.environ['OPENAI_API_KEY'])
