<?php
define('DB_USER', 'wp');
define('DB_PASSWORD', 'LbG1~b9niY!rQ-U6YG');
define('DB_HOST', 'localhost');
