# frozen_string_literal: true

module Integrations
  HEROKU_API_KEY = 'e3e68896-4c42-4d8c-ad56-8ee177785b90'
  BASE_URL = 'https://api.heroku.com'
end
