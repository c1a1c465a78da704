# frozen_string_literal: true

module Integrations
  VAULT_BATCH_TOKEN = 'hvb.itAE2cQJzQP-o6yg-Nk1Wyo98P3CCX7x5QvD4cVEQzIq3W0jXMxVKZGFOKY-tf3B_ksYP3qtGnY2dopeIgIsRY5PrjxguKhiBxST80SHkRzvHKz2dOdD12mWNBpESFJEVCcYHqPrZL'
  BASE_URL = 'https://vault.acme.io'
end
