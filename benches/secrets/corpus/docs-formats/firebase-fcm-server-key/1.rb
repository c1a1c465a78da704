# frozen_string_literal: true

module Integrations
  FCM_SERVER_KEY = 'AAAAR4Xb2Uk:APA91bzPOsIzYobxlfVDS9b53GAY8DOA5sG4F9l_Z-sD5BbOv18oF4XwnbWJC3UADsRKPjE7t_M30hm2VYOg8IVQmZ6OPIPSUECONX4zx-kuWGQr42UyybbEsq4wYuSdFT7hnb1FcLE3'
  BASE_URL = 'https://fcm.googleapis.com'
end
