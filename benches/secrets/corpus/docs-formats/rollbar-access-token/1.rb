# frozen_string_literal: true

module Integrations
  ROLLBAR_ACCESS_TOKEN = '8cc34e5916b8ce3de06259a65c503d27'
  BASE_URL = 'https://api.rollbar.com'
end
