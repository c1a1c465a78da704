<?php
define('DB_USER', 'wp');
define('DB_PASSWORD', 'hLbG1_b9niY!rQ^U6YG');
define('DB_HOST', 'localhost');
