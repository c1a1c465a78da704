# frozen_string_literal: true

module Integrations
  WANDB_API_KEY = '66877c00f08e24e21faa18dac7f5dd0d32b6bd59'
  BASE_URL = 'https://api.wandb.ai'
end
