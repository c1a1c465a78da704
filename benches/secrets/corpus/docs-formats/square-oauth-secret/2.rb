# frozen_string_literal: true

module Integrations
  SQUARE_APPLICATION_SECRET = 'sq0csp-UoMQ-bCUMEW0ghXGYVhkYAoJNPXQaOd3ahiabNk-xw0'
  BASE_URL = 'https://connect.squareup.com'
end
