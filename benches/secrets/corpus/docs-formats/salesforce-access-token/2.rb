# frozen_string_literal: true

module Integrations
  SALESFORCE_ACCESS_TOKEN = '00Dz8d97mnKqwFn!BCE3KfRZpAfCWUcvl4SMr6cgFzx5QBtDdQmEFrDdSqC2e3nGbnmn6ci2GZcR1GzZkRR698vcriLG2VwCctyArjCbopgx2B5j'
  BASE_URL = 'https://acme.my.salesforce.com'
end
