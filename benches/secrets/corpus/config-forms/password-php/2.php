<?php
$config = [
    'db_password' => 'oq@*e^-n7_w-F!u46XbME',
];
