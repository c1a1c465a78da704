# frozen_string_literal: true

module Integrations
  HCLOUD_TOKEN = 'N61EkQPbLABoIdyMCaQWHRmzkfS85bW7YajddBj4iD7plqd9g1ZNh1YGartpiCbc'
  BASE_URL = 'https://api.hetzner.cloud'
end
