<?php
$config = [
    'db_password' => 'oq.%e#^n7*w^F!u46XbME',
];
